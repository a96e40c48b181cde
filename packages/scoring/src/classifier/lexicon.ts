/**
 * Domain vocabularies: each word of a list adds one shared feature for its list, so that a word the
 * labelled prompts never contained still counts for its domain ("antiderivative" as math, "limerick"
 * as creative). The model learns how much each list means; the lists only say which words belong
 * together. General vocabulary, written for this repository.
 */
export const LEXICONS: readonly (readonly string[])[] = [
  // 0 mathematics
  `math maths mathematics mathematical equation equations solve solving integral integrals integrate
  integration derivative derivatives differentiate differentiation differential calculus algebra
  algebraic geometry geometric trigonometry sine cosine tangent logarithm logarithms exponent
  exponential polynomial polynomials quadratic cubic linear matrix matrices vector vectors
  eigenvalue eigenvalues eigenvector determinant theorem theorems lemma proof prove proves proving
  corollary axiom probability probabilities statistics statistical variance deviation mean median
  mode expected distribution binomial poisson gaussian bayes conditional combinatorics permutation
  permutations combination combinations factorial prime primes divisible divisor gcd lcm modulo
  modular integer integers rational irrational real complex imaginary fraction fractions percent
  percentage ratio sum product quotient remainder sequence series convergence converge diverge limit
  limits infinity infinite function functions domain range graph graphs topology topological
  manifold group groups ring rings field fields isomorphism homomorphism set sets subset subsets
  union intersection inequality inequalities area perimeter volume radius diameter circumference
  triangle triangles circle square rectangle polygon angle angles hypotenuse pythagorean arithmetic
  calculate calculation compute computing formula formulas numeric numerical digits sqrt squared
  cubed velocity acceleration momentum force kinetic joules newton newtons mass density pressure
  resistance voltage current ohm ohms watts kg km meters metres seconds mph speed maximize maximise
  minimize minimise maximum minimum largest smallest optimal optimum dimensions feet foot inches
  inch yards miles cm mm centimeters millimeters liters litres gallons tons tonnes grams gram mg ml
  degrees radians hour hours minutes coins coin cents dimes nickels quarters pennies dollars
  interest compound rate rates loan mortgage abelian category categories functor morphism morphisms
  projective compact hilbert banach lebesgue measure measurable metric norm orthogonal basis span
  dimension rank kernel invertible inverse transpose scalar tensor gradient divergence curl laplace
  fourier taylor maclaurin asymptotic bound bounds logarithmic mod congruence diophantine fibonacci
  factor factors factorization factorize multiply multiplied divide divided subtract add plus minus
  times equals half twice triple double odd even digit numbers number knot knots braid vertices
  vertex edges edge tree trees moles mol molar stoichiometry reaction yield concentration ph
  enthalpy entropy joule calorie calories frequency wavelength amplitude energy potential charge
  circuit resistor capacitor electrons orbit orbital gravity gravitational trajectory projectile
  slope intercept parabola hyperbola ellipse coordinate coordinates axis cartesian polar spherical
  cylinder cone sphere cube prism pyramid hexagon pentagon octagon regression correlation hypothesis
  significance confidence interval sample samples population randomly random dice die cards deck
  odds`,
  // 1 code
  `code coding program programming programmer script scripts function functions method methods class
  classes object objects variable variables array arrays list dict dictionary hashmap string strings
  integer boolean loop loops recursion recursive algorithm algorithms implement implementation api
  apis endpoint endpoints library libraries framework package module import compile compiler
  compiled runtime syntax python javascript typescript java kotlin swift rust golang go c cpp csharp
  php ruby perl scala haskell lua bash shell powershell sql mysql postgres postgresql sqlite mongodb
  redis html css react vue angular svelte node nodejs express django flask spring dotnet unity
  pandas numpy pytorch tensorflow keras sklearn dataframe regex json yaml xml csv docker dockerfile
  kubernetes terraform git github repository repo commit frontend backend server client database
  query queries schema table tables index frontend websocket http async await promise thread threads
  concurrency mutex struct pointer pointers interface generics lambda closure callback iterator
  generator decorator unittest pytest jest test tests debugging leetcode npm pip cargo maven gradle
  webpack vite babel eslint linter regexp route routes router middleware controller model view
  template component components hook hooks state props redux graphql rest grpc protobuf oauth jwt
  authentication login signup crud orm sequelize prisma hibernate jdbc microservice microservices
  serverless aws azure gcp cloudformation ansible nginx apache linux unix cli command terminal cron
  webhook scraper scraping selenium playwright puppeteer bot discord telegram slack opencv
  matplotlib seaborn plotly scipy sympy jupyter notebook excel vba macro formula spreadsheet sheets
  google apps gui tkinter pyqt qt winforms wpf android ios flutter dart xamarin arduino raspberry
  microcontroller firmware verilog vhdl fpga assembly shader glsl hlsl opengl vulkan directx unreal
  godot blender plugin extension chrome vscode vim emacs latex markdown snippet boilerplate binary
  tree linked queue heap graph bfs dfs dijkstra sorting sort quicksort mergesort hash hashing cache
  caching memoization dynamic complexity bitwise byte bytes bits buffer stream streams
  socket sockets parse parser tokenizer lexer interpreter`,
  // 2 debugging
  `error errors exception exceptions traceback stacktrace stack bug bugs buggy fix fixing fixed debug
  crash crashes crashing fails failing failed failure broken wrong issue warning warnings undefined
  null nullpointerexception segfault segmentation typeerror valueerror keyerror syntaxerror
  referenceerror attributeerror indexerror importerror modulenotfounderror nameerror runtimeerror
  timeout deadlock leak refactor refactoring optimize optimise review stuck help why not working
  throws thrown throwing raise raised raises exit status code 404 500 403 401 cors denied permission
  permissions missing cannot couldn't unable compile compiling build building linker
  unresolved reference mismatch incompatible deprecated version versions upgrade downgrade
  dependency dependencies conflict conflicts hangs hanging freezes slow memory overflow underflow
  infinite corrupted invalid unhandled uncaught panic abort aborted killed oom`,
  // 3 reasoning and puzzles
  `riddle riddles puzzle puzzles logic logical deduce deduction deductive infer inference premise
  premises conclusion syllogism paradox trick brainteaser lateral clue clues liar truthteller
  knights knaves sister sisters brother brothers siblings older younger taller shorter heavier
  lighter sequence pattern hypothetically therefore implies statement statements valid invalid
  contradiction consistent enigma conundrum question thinking brain teaser reasoning reason rooms
  doors door guards guard prisoners prisoner hats hat switch switches bulbs bulb bridge river boat
  crossing wolf goat cabbage balls weighing scale scales coins fake counterfeit truth lies lying
  island islanders murder murderer suspect suspects detective alibi mystery chess checkmate sudoku
  nonogram crossword anagram anagrams wordplay letters family relation relationship grandfather
  grandmother father mother son daughter uncle aunt cousin nephew niece`,
  // 4 analysis
  `analyze analyse analysis analyzing analysing compare comparison contrast versus vs pros cons
  advantages disadvantages tradeoffs tradeoff evaluate evaluation assess assessment critique
  critically implications impact impacts strategy strategies strategic plan planning recommend
  recommendation recommendations risk risks opportunity opportunities swot market business
  investment invest portfolio budget revenue profit growth competitor competitors alternatives
  optimize interpret interpretation insight insights trend trends forecast feasibility perspective
  argument arguments ethical ethics policy policies framework frameworks review weigh weighing
  benefits drawbacks consequences causes effects factors root pestel porter competitive landscape
  stakeholders stakeholder roadmap milestones kpi kpis metrics okr goals objectives startup company
  companies enterprise customer customers clients sales marketing pricing monetization funding
  investors venture valuation stocks stock shares bonds etf etfs crypto bitcoin retirement savings
  salary career job jobs interview promotion negotiate negotiation itinerary trip travel schedule
  routine diet workout fitness nutrition architecture scalability scalable design migrate migration
  vendor vendors tool tools choose choosing which better worth`,
  // 5 creative
  `story stories poem poems poetry poet verse verses stanza rhyme rhymes rhyming haiku sonnet
  limerick lyrics song songs ballad rap fiction fictional fantasy novel novella chapter
  character characters plot protagonist villain hero dragon dragons wizard magic magical fairy tale
  fable myth legend imagine imaginary imaginative creative joke jokes funny humor humorous pun puns
  parody satire screenplay script scene dialogue monologue roleplay adventure quest dungeon game
  narrate narrative narrator worldbuilding slogan slogans tagline name names brainstorm whimsical
  epic ode elegy villanelle couplet quatrain free chorus tales short fanfic fanfiction twist
  teleplay sitcom episode stage play musical skit sketch comedy riddle hilarious witty absurd
  surreal dark gothic horror thriller romance romantic mystery dystopian utopian cyberpunk steampunk
  science-fiction superhero elves orcs wizards knights kingdom rpg dnd campaign master npc backstory
  lore pretend hypothetical scenario alternate universe invent invented creature monster alien
  aliens robot robots time travel catchy nickname title titles`,
  // 6 functional writing
  `rewrite email emails letter letters essay essays article articles blog post posts report reports
  memo proposal cover resume cv linkedin bio biography newsletter announcement press release speech
  toast outline draft paragraph paragraphs summary introduction conclusion abstract thesis proofread
  proofreading edit editing grammar tone formal informal polite professional concise rephrase
  paraphrase wording copywriting headline headlines caption tweet landing documentation manual
  lesson syllabus agenda mail application resignation complaint apology thank-you invitation
  recommendation reference argumentative persuasive expository narrative editorial column
  minutes grant literature review paper dissertation profile captions thread ad ads advertisement
  copy marketing tagline product description listing seo page eulogy wedding policy handbook
  guideline guidelines readme tutorial plan curriculum worksheet quiz rubric reword polish improve
  spelling punctuation friendly shorter longer expand`,
  // 7 facts and explanations
  `explain explanation define definition meaning history historical century war wars king queen
  president empire country countries capital city population founded invented discovered inventor
  science scientific biology chemistry physics planet planets universe galaxy earth ocean climate
  species animal animals plant plants disease diseases symptoms cause causes caused medicine law
  laws legal court rights constitution religion culture famous difference differences facts fact
  information describe overview ancient medieval renaissance centuries battle revolution dynasty
  kingdom emperor prime minister government parliament election elections democracy supreme ruling
  lawsuit geography cities continent mountain river island economy gdp currency astronomy geology
  ecology evolution cell cells dna gene genes protein proteins virus bacteria immune vaccine
  treatment medical drug drugs doctor health body brain heart blood organ star stars sun moon
  atmosphere weather means mean whats discovery origin origins author wrote painted
  composer philosopher philosophy religious tradition traditions holiday language etymology`,
  // 8 summarization
  `summarize summarise summary summarization summarisation tldr condense shorten brief briefly
  recap gist synopsis abstract key points main points highlights bullet bullets summarizing
  summarising summaries condensed shortened digest overview takeaways ideas nutshell`,
  // 9 extraction and classification
  `extract extraction extracting parse parsing identify entities entity named ner classify
  classification categorize categorise label labels tag tags sentiment keywords fields attributes
  json table columns pull identification detect classifier categorization labeling tagging positive
  negative neutral keyphrases field attribute schema csv tabular spreadsheet column convert
  conversion normalize structured unstructured dates names addresses phone emails invoice receipt
  resume mentions occurrences frequency rank ranking sort filter`,
  // 10 translation
  `translate translation translating translator translated english spanish french german italian
  portuguese russian chinese mandarin cantonese japanese korean arabic hindi urdu bengali turkish
  dutch polish swedish norwegian danish finnish greek hebrew persian farsi vietnamese thai
  indonesian malay ukrainian czech romanian hungarian latin translations transliterate brazilian
  punjabi tamil telugu marathi gujarati flemish icelandic yiddish lao khmer burmese tagalog filipino
  belarusian slovak slovenian croatian serbian bosnian bulgarian estonian latvian lithuanian
  albanian armenian georgian azerbaijani kazakh uzbek mongolian swahili amharic yoruba igbo zulu
  afrikaans esperanto catalan basque galician welsh irish gaelic`,
  // 11 conversation
  `hi hello hey hiya howdy thanks thank thx goodbye bye morning evening night feel feeling feelings
  sad lonely happy anxious anxiety depressed stressed bored love friend friends chat talk talking
  weekend hobby hobbies greetings yo sup ty cheers goodnight felt alone excited depression stress
  overwhelmed tired upset angry hurt heartbroken breakup boyfriend girlfriend husband wife partner
  crush loved miss missing friendship vent listen advice comfort cheer motivate motivation hug sorry
  assistant chatgpt ai yourself sentient conscious emotions favorite favourite`,
].map((list) => list.split(/\s+/).filter((w) => w.length > 0));
